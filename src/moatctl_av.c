/* moatctl_av: placeholder, being written. */
#include "moatctl_av.h"

#include <stdio.h>

int
moatctl_av(const struct config *cfg, int argc, char **argv)
{
	(void)cfg;
	(void)argc;
	(void)argv;
	fprintf(stderr, "moatctl: av: not implemented yet\n");
	return 1;
}
