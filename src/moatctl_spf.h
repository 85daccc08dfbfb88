/* moatctl_spf: "moatctl spf check": evaluate SPF (RFC 7208) or Sender ID
 * (RFC 4406/4407) for a client address, HELO name and sender, over DNS. */
#ifndef MOAT_MOATCTL_SPF_H
#define MOAT_MOATCTL_SPF_H

#include "config.h"

/* argv[0] is "spf". Returns the process exit code: 0 whatever the SPF
 * result, non-zero on usage or configuration errors. */
int moatctl_spf(const struct config *cfg, int argc, char **argv);

#endif
