namespace DumpShell.Format.Minidump;

public sealed partial class MinidumpFile
{
    private object? _lazyLock;

    /// <summary>Parses a stream once, on first use, safely when several threads ask at the same time.</summary>
    private T Once<T>(ref T field, ref bool done, Func<T> read) =>
        LazyInitializer.EnsureInitialized(ref field, ref done, ref _lazyLock, read);

    /// <summary>
    /// How many fixed-size entries a list stream really holds: the smaller of its declared count and what
    /// fits in its bytes. A shortfall is reported, never trusted: a hostile count must not size an allocation.
    /// </summary>
    internal int FittingCount(MinidumpStreamType stream, ulong declared, int available, int entrySize, string what)
    {
        long fits = entrySize <= 0 ? 0 : Math.Max(0, available) / entrySize;
        if ((ulong)fits >= declared) return (int)declared;
        Report($"{stream}Truncated",
            $"The {stream} stream declares {declared} {what}, but its bytes hold only {fits}; reading those.", stream);
        return (int)fits;
    }

    /// <summary>
    /// Some writers pad the 4-byte count of ThreadList, ModuleList and MemoryList to 8 bytes. The padding
    /// shows as a stream exactly 4 bytes longer than count * entry + 4.
    /// </summary>
    private static int ListHeaderSize(int streamLength, uint count, int entrySize) =>
        (long)streamLength == 8 + (long)count * entrySize ? 8 : 4;
}
