/* moatctl_spf: "moatctl spf check" (being written). */
#include "moatctl_spf.h"

#include <stdio.h>

int
moatctl_spf(const struct config *cfg, int argc, char **argv)
{
	(void)cfg;
	(void)argc;
	(void)argv;
	fprintf(stderr, "moatctl: spf: not yet available\n");
	return 1;
}
