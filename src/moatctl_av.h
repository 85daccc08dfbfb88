/* moatctl_av: "moatctl av scan FILE..." and "moatctl av ping": files
 * scanned by the clamd moatd uses, one clamdscan-style line each. */
#ifndef MOAT_MOATCTL_AV_H
#define MOAT_MOATCTL_AV_H

#include "config.h"

/* argv[0] is "av". Returns the process exit code: 0 clean, 1 infected,
 * 2 error or usage. */
int moatctl_av(const struct config *cfg, int argc, char **argv);
/* The clamd address moatctl talks to. */
const char *moatctl_av_address(const struct config *cfg);

#endif
