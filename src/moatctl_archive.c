/* moatctl_archive: placeholder, being written. */
#include "moatctl_archive.h"

#include <stdio.h>

int
moatctl_archive(const struct config *cfg, int argc, char **argv)
{
	(void)cfg;
	(void)argc;
	(void)argv;
	fprintf(stderr, "moatctl: archive: not implemented yet\n");
	return 1;
}
