/* Tiny check macros shared by the C client tests. */
#ifndef SEALCAM_FFI_TESTS_CHECK_H
#define SEALCAM_FFI_TESTS_CHECK_H

#include <stdio.h>

static int failures = 0;
#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);    \
            failures++;                                                                 \
        }                                                                               \
    } while (0)

#endif
