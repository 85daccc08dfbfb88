/* moatctl_queue: "moatctl queue list|show|flush|delete". */
#ifndef MOAT_MOATCTL_QUEUE_H
#define MOAT_MOATCTL_QUEUE_H

#include "config.h"

/* argv[0] is "queue". Returns the process exit code. */
int moatctl_queue(const struct config *cfg, int argc, char **argv);

#endif
