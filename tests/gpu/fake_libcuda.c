/* A stand-in for NVIDIA's libcuda in tests: a real shared object with the
   driver's file name and soname, and one entry point of the driver API. */
int cuInit(unsigned int flags) { return flags == 0 ? 0 : 1; }
const char* ctrsnap_fake_driver_version(void) { return "535.104.05-fake"; }
