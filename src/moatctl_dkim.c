/* moatctl_dkim: DKIM key administration, verification and signing of
 * message files (work in progress). */
#include "moatctl_dkim.h"

#include <stdio.h>

int
moatctl_dkim(const struct config *cfg, int argc, char **argv)
{
	(void)cfg;
	(void)argc;
	(void)argv;
	fprintf(stderr, "moatctl: dkim: not implemented yet\n");
	return 1;
}
