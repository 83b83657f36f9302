package app

// disabledBusAddress is a session bus address no library can use: godbus
// fails on it at once (an unknown transport) instead of running
// dbus-launch. guardSessionBus sets it when there is no bus.
const disabledBusAddress = "disabled:"
