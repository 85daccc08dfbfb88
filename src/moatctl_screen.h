/* moatctl_screen: "moatctl screen": static allow/deny screening rules
 * (add, del, list, import) and "screen test", which runs the compiled
 * matcher of the workers against given inputs. */
#ifndef MOAT_MOATCTL_SCREEN_H
#define MOAT_MOATCTL_SCREEN_H

#include "config.h"

/* argv[0] is "screen". Returns the process exit code: 0, 1 on errors,
 * 2 on usage errors. */
int moatctl_screen(const struct config *cfg, int argc, char **argv);

#endif
