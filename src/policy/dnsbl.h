/* dnsbl: placeholder, being written. */
#ifndef MOAT_DNSBL_H
#define MOAT_DNSBL_H
#endif
