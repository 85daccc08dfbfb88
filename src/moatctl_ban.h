/* moatctl_ban: placeholder, being written. */
#ifndef MOAT_MOATCTL_BAN_H
#define MOAT_MOATCTL_BAN_H

#include "config.h"

/* argv[0] is "ban". Returns the process exit code. */
int moatctl_ban(const struct config *cfg, int argc, char **argv);

#endif
