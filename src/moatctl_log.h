/* moatctl_log: "moatctl log rejected": the rejected-session log. */
#ifndef MOAT_MOATCTL_LOG_H
#define MOAT_MOATCTL_LOG_H

#include "config.h"

/* argv[0] is "log". Returns the process exit code. */
int moatctl_log(const struct config *cfg, int argc, char **argv);

#endif
