/* fp32 <-> bf16 and IEEE half (f16), bit exact. */
#ifndef PE_HALF_H
#define PE_HALF_H

#include <stdint.h>

float pe_f32_from_bf16(uint16_t h);  /* exact: bf16 is the top half of an fp32 */
float pe_f32_from_f16(uint16_t h);   /* exact, subnormals, inf and nan included */
uint16_t pe_bf16_from_f32(float f);  /* round to nearest even; nan stays a quiet nan */
uint16_t pe_f16_from_f32(float f);   /* round to nearest even; overflow to inf */
/* x rounded to the nearest bf16 value (ties to even, one rounding straight
 * from the double: no double rounding through fp32), as a double; overflow
 * to inf, nan stays nan. Equal to pe_f32_from_bf16(pe_bf16_from_f32(x)) for
 * every float x. */
double pe_bf16_round_f64(double x);

#endif
