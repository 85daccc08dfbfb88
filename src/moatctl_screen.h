/* moatctl_screen: placeholder, being written. */
#ifndef MOAT_MOATCTL_SCREEN_H
#define MOAT_MOATCTL_SCREEN_H

#include "config.h"

/* argv[0] is "screen". Returns the process exit code. */
int moatctl_screen(const struct config *cfg, int argc, char **argv);

#endif
