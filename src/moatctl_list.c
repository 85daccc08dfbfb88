/* moatctl_list: see moatctl_list.h. (Not written yet.) */
#include "moatctl_list.h"

#include <stdio.h>

int
moatctl_list(const struct config *cfg, int argc, char **argv)
{
	(void)cfg;
	(void)argc;
	(void)argv;
	fprintf(stderr, "moatctl: list: not available yet\n");
	return 2;
}
