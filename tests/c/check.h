/* check.h - the assertion of the C unit tests: counts checks and failures
   and prints each failure with its line, and goes on (a test binary exits
   non-zero when `failures` is, see each main()). */
#ifndef HW_TEST_CHECK_H
#define HW_TEST_CHECK_H

#include <stdio.h>

static int failures, checks;

#define CHECK(cond, ...) do {                                   \
        checks++;                                               \
        if (!(cond)) {                                          \
            failures++;                                         \
            printf("FAIL line %d: ", __LINE__);                 \
            printf(__VA_ARGS__);                                \
            printf("\n");                                       \
        }                                                       \
    } while (0)

#endif
