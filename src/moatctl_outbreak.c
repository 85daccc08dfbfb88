/* moatctl_outbreak: see moatctl_outbreak.h. (Not written yet.) */
#include "moatctl_outbreak.h"

#include <stdio.h>

int
moatctl_outbreak(const struct config *cfg, int argc, char **argv)
{
	(void)cfg;
	(void)argc;
	(void)argv;
	fprintf(stderr, "moatctl: outbreak: not available yet\n");
	return 2;
}
