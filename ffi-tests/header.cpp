// The header must compile as C++ (checked by tests/ffi_c.rs with g++ -fsyntax-only).
#include "sealcam.h"

int main() {
    sealcam_sender_config c;
    return sealcam_sender_config_default(&c) == SEALCAM_OK ? 0 : 1;
}
