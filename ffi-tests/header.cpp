// The header compiles as C++17 and as C11 beside a firmware's own names (checked by
// tests/ffi_c.rs with -Wall -Wextra -Werror -pedantic): it defines only sealcam_ and
// SEALCAM_ names, so none of these collide.
#define I420 0
#define Nv12 1
typedef int PixelFormat;
enum ColorMatrix { Bt601, Bt709 };
struct Plane { int x; };

#include <string.h>

#include "sealcam.h"
#include "sealcam.h" /* included twice: the guard holds */

int main(void) {
    sealcam_sender_config c;
    memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    PixelFormat f = I420 + Nv12;
    return (sealcam_sender_config_default(&c) == SEALCAM_OK && f == 1) ? 0 : 1;
}
