/* moatctl_spam: placeholder, being written. */
#include "moatctl_spam.h"

#include <stdio.h>

int
moatctl_spam(const struct config *cfg, int argc, char **argv)
{
	(void)cfg;
	(void)argc;
	(void)argv;
	fprintf(stderr, "moatctl: spam: not implemented yet\n");
	return 1;
}
