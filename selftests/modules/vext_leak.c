// SPDX-License-Identifier: GPL-2.0-only
/*
 * vext_leak - a test-only module that leaks memory and does nothing else.
 *
 * On load it allocates eight small objects and forgets every pointer. A
 * stock kernel cannot tell; the debug row's kernel has kmemleak, and the
 * VM init scans before it sends the kernel log, so kmemleak reports them
 * as "unreferenced object" with vext_leak_objects in the backtrace. The debug
 * row's runner self-test boots with this module and must report that boot
 * as failed: it proves that a leak fails the row. Eight objects rather than
 * one: a stale copy of the last pointer may survive in a stack that
 * kmemleak scans. Never part of the suite.
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>

#define VEXT_LEAK_OBJECTS	8
#define VEXT_LEAK_SIZE		256

/*
 * Not __init: kmemleak's backtrace must name this function and module, and
 * an __init function's text is gone (a bare address) by the time it scans.
 */
static noinline int vext_leak_objects(void)
{
	void *p;
	int i;

	for (i = 0; i < VEXT_LEAK_OBJECTS; i++) {
		p = kmalloc(VEXT_LEAK_SIZE, GFP_KERNEL);
		if (!p)
			return -ENOMEM;
		memset(p, 0x5a, VEXT_LEAK_SIZE);
	}
	return 0;
}

static int __init vext_leak_init(void)
{
	int ret = vext_leak_objects();

	if (!ret)
		pr_info("vext_leak: leaked %d objects of %d bytes\n", VEXT_LEAK_OBJECTS,
			VEXT_LEAK_SIZE);
	return ret;
}
module_init(vext_leak_init);

static void __exit vext_leak_exit(void)
{
}
module_exit(vext_leak_exit);

MODULE_DESCRIPTION("vext test module: leaks on load (debug row kmemleak self-test)");
MODULE_LICENSE("GPL");
