/* moatctl_av: placeholder, being written. */
#ifndef MOAT_MOATCTL_AV_H
#define MOAT_MOATCTL_AV_H

#include "config.h"

/* argv[0] is "av". Returns the process exit code. */
int moatctl_av(const struct config *cfg, int argc, char **argv);

#endif
