/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The kselftest harness as the vext selftests include it.
 *
 * kselftest_harness.h comes from Debian's linux-source-6.1 at build time
 * (see selftests/Makefile). Its 6.1 version has an unused parameter in its
 * SIGALRM handler, which -Wextra -Werror rejects: silence exactly that
 * warning for the harness, and keep it for the tests.
 */
#ifndef _VEXT_HARNESS_H
#define _VEXT_HARNESS_H

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#pragma GCC diagnostic pop

#endif /* _VEXT_HARNESS_H */
