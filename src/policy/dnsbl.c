/* dnsbl: placeholder, being written. */
#include "dnsbl.h"
typedef int dnsbl_placeholder;
