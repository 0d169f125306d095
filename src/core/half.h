/* fp32 <-> bf16 and IEEE half (f16), bit exact. */
#ifndef PE_HALF_H
#define PE_HALF_H

#include <stdint.h>

float pe_f32_from_bf16(uint16_t h);  /* exact: bf16 is the top half of an fp32 */
float pe_f32_from_f16(uint16_t h);   /* exact, subnormals, inf and nan included */
uint16_t pe_bf16_from_f32(float f);  /* round to nearest even; nan stays a quiet nan */
uint16_t pe_f16_from_f32(float f);   /* round to nearest even; overflow to inf */

#endif
