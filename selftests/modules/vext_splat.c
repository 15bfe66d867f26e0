// SPDX-License-Identifier: GPL-2.0-only
/*
 * vext_splat - a test-only module that WARNs once when loaded.
 *
 * The VM runner's self-test boots with this module loaded and expects the
 * run to be reported as failed: it proves the dmesg splat check can fail.
 */
#include <linux/module.h>
#include <linux/bug.h>

static int __init vext_splat_init(void)
{
	WARN(1, "vext_splat: deliberate warning for the runner self-test\n");
	return 0;
}
module_init(vext_splat_init);

static void __exit vext_splat_exit(void)
{
}
module_exit(vext_splat_exit);

MODULE_DESCRIPTION("vext test module: WARNs on load (runner self-test)");
MODULE_LICENSE("GPL");
