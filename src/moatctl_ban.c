/* moatctl_ban: placeholder, being written. */
#include "moatctl_ban.h"

#include <stdio.h>

int
moatctl_ban(const struct config *cfg, int argc, char **argv)
{
	(void)cfg;
	(void)argc;
	(void)argv;
	fprintf(stderr, "moatctl: ban: not implemented yet\n");
	return 1;
}
