/* moatctl_dkim: "moatctl dkim keygen|show|enable|disable|del|verify|sign":
 * DKIM signing keys in the store, DNS records to publish, and checking or
 * signing a message file. */
#ifndef MOAT_MOATCTL_DKIM_H
#define MOAT_MOATCTL_DKIM_H

#include "config.h"

/* argv[0] is "dkim". Returns the process exit code. */
int moatctl_dkim(const struct config *cfg, int argc, char **argv);

#endif
