/* moatctl_ban: "moatctl ban list|add|del": the dynamic-screening bans in
 * <data_dir>/screen.map (dynscreen.h), read and changed in place while
 * moatd runs; and the shared way moatctl opens that file. */
#ifndef MOAT_MOATCTL_BAN_H
#define MOAT_MOATCTL_BAN_H

#include "config.h"

struct dynscreen;

/* argv[0] is "ban". Returns the process exit code. */
int moatctl_ban(const struct config *cfg, int argc, char **argv);

/* The server's screen.map, or NULL when moatd has never run with this
 * data_dir (quiet) or it cannot be opened (said on stderr). */
struct dynscreen *moatctl_screen_map(const struct config *cfg);

#endif
