#pragma once
// See gloo/rendezvous/store.h: declarations only, for ProcessGroupGloo.hpp.
#include "gloo/rendezvous/store.h"
