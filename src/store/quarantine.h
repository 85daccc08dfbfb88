/* quarantine: (not written yet). */
#ifndef MOAT_QUARANTINE_H
#define MOAT_QUARANTINE_H
#endif
