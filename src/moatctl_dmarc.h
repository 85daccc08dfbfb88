/* moatctl_dmarc: "moatctl dmarc check": SPF, DKIM, ARC and DMARC for a
 * message file as the SMTP server would judge it, over the [dns]
 * resolvers; "moatctl dmarc arc-seal": add an ARC set to a message with
 * a domain's DKIM key. */
#ifndef MOAT_MOATCTL_DMARC_H
#define MOAT_MOATCTL_DMARC_H

#include "config.h"

/* argv[0] is "dmarc". Returns the process exit code: 0 whatever the
 * results, non-zero on usage, file or configuration errors. */
int moatctl_dmarc(const struct config *cfg, int argc, char **argv);

#endif
