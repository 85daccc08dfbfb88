/* moatctl_list: the "moatctl list ..." commands. */
#ifndef MOAT_MOATCTL_LIST_H
#define MOAT_MOATCTL_LIST_H

#include "config.h"

/* argv[0] is "list". Returns the process exit code. */
int moatctl_list(const struct config *cfg, int argc, char **argv);

#endif
