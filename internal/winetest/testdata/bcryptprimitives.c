/* Test-only shim, never shipped: Go 1.26 Windows programs need ProcessPrng
 * from bcryptprimitives.dll, which Debian's Wine 8 lacks ("fatal error:
 * bcryptprimitives.dll not found"). This provides it over RtlGenRandom
 * (advapi32's SystemFunction036). internal/winetest builds it with mingw into
 * each test's private WINEPREFIX's system32. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buf, ULONG len);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
	while (len > 0) {
		ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
		if (!SystemFunction036(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
