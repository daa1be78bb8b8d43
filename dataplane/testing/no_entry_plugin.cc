// A shared object that is not a vhostd plugin: it lacks the entry point.
extern "C" int not_a_vhostd_plugin(void) { return 1; }
