/* moatctl_outbreak: the "moatctl outbreak ..." commands. */
#ifndef MOAT_MOATCTL_OUTBREAK_H
#define MOAT_MOATCTL_OUTBREAK_H

#include "config.h"

/* argv[0] is "outbreak". Returns the process exit code. */
int moatctl_outbreak(const struct config *cfg, int argc, char **argv);

#endif
