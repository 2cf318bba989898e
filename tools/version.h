/* version.h — the version every kvcheck command and report names. */
#ifndef KVC_VERSION_H
#define KVC_VERSION_H

#define KVC_VERSION "kvcheck 0.2"

#endif
