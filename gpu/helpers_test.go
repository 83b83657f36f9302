package gpu

const gib = uint64(1) << 30
