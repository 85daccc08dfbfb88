/* moatctl_quarantine: see moatctl_quarantine.h. (Not written yet.) */
#include "moatctl_quarantine.h"

#include <stdio.h>

int
moatctl_quarantine(const struct config *cfg, int argc, char **argv)
{
	(void)cfg;
	(void)argc;
	(void)argv;
	fprintf(stderr, "moatctl: quarantine: not available yet\n");
	return 2;
}
