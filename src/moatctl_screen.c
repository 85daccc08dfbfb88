/* moatctl_screen: placeholder, being written. */
#include "moatctl_screen.h"

#include <stdio.h>

int
moatctl_screen(const struct config *cfg, int argc, char **argv)
{
	(void)cfg;
	(void)argc;
	(void)argv;
	fprintf(stderr, "moatctl: screen: not implemented yet\n");
	return 1;
}
