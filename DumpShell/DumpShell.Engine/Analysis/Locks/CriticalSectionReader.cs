using DumpShell.Model;

namespace DumpShell.Analysis.Locks;

/// <summary>The raw fields of one RTL_CRITICAL_SECTION.</summary>
internal sealed record RawCriticalSection(
    ulong Address, ulong DebugInfo, int LockCount, int RecursionCount, ulong OwningThread, ulong LockSemaphore, ulong SpinCount,
    bool FromStack, bool FromDebugList, uint? EntryCount, uint? ContentionCount);

/// <summary>
/// Reads and validates RTL_CRITICAL_SECTION structures (layout in patterns.md: x64 DebugInfo 0x00, LockCount 0x08,
/// RecursionCount 0x0C, OwningThread 0x10, LockSemaphore 0x18, SpinCount 0x20; x86 0x00/0x04/0x08/0x0C/0x10/0x14) and
/// walks the RTL_CRITICAL_SECTION_DEBUG.ProcessLocksList from PEB.LoaderLock.
/// </summary>
internal sealed class CriticalSectionReader
{
    private const int MaxListEntries = 65536;
    private readonly Dump _dump;
    private readonly IReadOnlyDictionary<uint, DumpThread> _threads;
    private readonly int _ptr;

    public CriticalSectionReader(Dump dump, IReadOnlyDictionary<uint, DumpThread> threads)
    {
        _dump = dump;
        _threads = threads;
        _ptr = dump.PointerSize;
    }

    private int Size => _ptr == 8 ? 0x28 : 0x18;

    /// <summary>Reads the structure at <paramref name="address"/>; null when the dump lacks its bytes.</summary>
    public RawCriticalSection? Read(ulong address, bool fromStack, bool fromList)
    {
        var buffer = new byte[Size];
        if (_dump.Memory.Read(address, buffer) < buffer.Length) return null;
        ulong P(int at) => _ptr == 8 ? BitConverter.ToUInt64(buffer, at) : BitConverter.ToUInt32(buffer, at);
        var s = buffer.AsSpan();
        int lockAt = _ptr == 8 ? 8 : 4;
        var raw = new RawCriticalSection(address, P(0), BitConverter.ToInt32(s[lockAt..]), BitConverter.ToInt32(s[(lockAt + 4)..]),
            P(lockAt + 8), P(lockAt + 8 + _ptr), P(lockAt + 8 + 2 * _ptr), fromStack, fromList, null, null);
        if (raw.DebugInfo != 0 && raw.DebugInfo != MinusOne && ReadDebug(raw.DebugInfo) is { } debug)
            raw = raw with { EntryCount = debug.EntryCount, ContentionCount = debug.ContentionCount };
        return raw;
    }

    private ulong MinusOne => _ptr == 8 ? ulong.MaxValue : uint.MaxValue;

    private (ulong CriticalSection, ulong Flink, uint EntryCount, uint ContentionCount)? ReadDebug(ulong debug)
    {
        int size = _ptr == 8 ? 0x28 : 0x18;
        var buffer = new byte[size];
        if (_dump.Memory.Read(debug, buffer) < buffer.Length) return null;
        var s = buffer.AsSpan();
        return _ptr == 8
            ? (BitConverter.ToUInt64(s[8..]), BitConverter.ToUInt64(s[0x10..]), BitConverter.ToUInt32(s[0x20..]), BitConverter.ToUInt32(s[0x24..]))
            : (BitConverter.ToUInt32(s[4..]), BitConverter.ToUInt32(s[8..]), BitConverter.ToUInt32(s[0x10..]), BitConverter.ToUInt32(s[0x14..]));
    }

    /// <summary>Plausible user-mode pointer: aligned, non-null, below the user-space limit.</summary>
    private bool PlausiblePointer(ulong p) =>
        p >= 0x10000 && p % (ulong)_ptr == 0 && (_ptr == 8 ? p < 0x0000_8000_0000_0000 : p < 0xFFFF_0000);

    /// <summary>
    /// The strict check for a structure found through a stack value: aligned; owned by a thread of the dump;
    /// RecursionCount 1..65535; LockCount locked under at least one meaning; DebugInfo null, -1, or a plausible pointer whose
    /// CriticalSection field (when the dump has it) points back; LockSemaphore a handle-sized value; SpinCount's upper
    /// half clear.
    /// </summary>
    public bool ValidLockedFromStack(RawCriticalSection c) =>
        c.Address % (ulong)_ptr == 0
        && c.OwningThread is > 0 and <= uint.MaxValue && _threads.ContainsKey((uint)c.OwningThread)
        && c.RecursionCount is >= 1 and <= 0xFFFF
        && (c.LockCount >= 0 || (c.LockCount & 1) == 0)
        && c.LockCount > -0x1000_0000
        && (c.LockSemaphore <= uint.MaxValue || c.LockSemaphore == MinusOne)
        && DebugInfoOk(c)
        && c.SpinCount <= uint.MaxValue;

    private bool DebugInfoOk(RawCriticalSection c)
    {
        if (c.DebugInfo == 0 || c.DebugInfo == MinusOne) return true;
        if (!PlausiblePointer(c.DebugInfo)) return false;
        return ReadDebug(c.DebugInfo) is not { } d || d.CriticalSection == c.Address;
    }

    /// <summary>Candidates from the waiting threads' wait frames and from the debug list, merged by address.</summary>
    public IReadOnlyList<RawCriticalSection> Find(IEnumerable<WaitFrames> waiting)
    {
        var found = new Dictionary<ulong, RawCriticalSection>();
        var tried = new HashSet<ulong>();
        foreach (var f in waiting)
            foreach (var s in f.Slots)
            {
                if (!PlausiblePointer(s.Value) || !tried.Add(s.Value)) continue;
                if (Read(s.Value, fromStack: true, fromList: false) is { } c && ValidLockedFromStack(c)) found[c.Address] = c;
            }
        foreach (var c in WalkDebugList())
            found[c.Address] = found.TryGetValue(c.Address, out var known) ? known with { FromDebugList = true } : c;
        return found.Values.OrderBy(c => c.Address).ToArray();
    }

    /// <summary>The ProcessLocksList entered from PEB.LoaderLock (x64 PEB+0x110, x86 PEB+0xA0) when memory has it.</summary>
    private IEnumerable<RawCriticalSection> WalkDebugList()
    {
        var env = _dump.ProcessEnvironments.FirstOrDefault(e => e.PointerSize == _ptr);
        if (env is null || env.PebAddress == 0) yield break;
        if (!_dump.Memory.TryReadPointer(env.PebAddress + (_ptr == 8 ? 0x110UL : 0xA0UL), _ptr, out ulong loaderLock) || loaderLock == 0) yield break;
        if (Read(loaderLock, false, true) is not { } start) yield break;
        if (start.DebugInfo == 0 || start.DebugInfo == MinusOne || ReadDebug(start.DebugInfo) is not { } d0) 
        {
            if (start.DebugInfo == 0 || start.DebugInfo == MinusOne) yield return start;
            yield break;
        }
        ulong listOffset = _ptr == 8 ? 0x10UL : 0x8UL;
        ulong head = start.DebugInfo + listOffset;
        ulong entry = d0.Flink;
        var seen = new HashSet<ulong> { head };
        yield return start;
        for (int n = 0; n < MaxListEntries && entry != head && entry != 0 && seen.Add(entry); n++)
        {
            ulong debug = entry - listOffset;
            if (ReadDebug(debug) is not { } d) yield break;
            if (d.CriticalSection != 0 && PlausiblePointer(d.CriticalSection) && Read(d.CriticalSection, false, true) is { } cs
                && cs.DebugInfo == debug)
                yield return cs;
            entry = d.Flink;
        }
    }

    private static bool PreVistaConsistent(RawCriticalSection c) =>
        (c.LockCount == -1 && c.RecursionCount == 0) || (c.LockCount >= 0 && c.OwningThread != 0 && c.RecursionCount >= 1);

    private static bool VistaConsistent(RawCriticalSection c) =>
        ((c.LockCount & 1) == 1 && c.RecursionCount == 0 && c.OwningThread == 0 && c.LockCount < 0)
        || ((c.LockCount & 1) == 0 && c.OwningThread != 0 && c.RecursionCount >= 1 && c.LockCount < 0);

    /// <summary>
    /// The LockCount meaning for the dump: from the values when some critical section is consistent with only one meaning
    /// (and none with only the other), else from the OS version (SystemInfo major version &lt; 6 = pre-Vista).
    /// </summary>
    public (LockCountEncoding, string) DecideEncoding(IReadOnlyList<RawCriticalSection> all)
    {
        var onlyPre = all.Where(c => PreVistaConsistent(c) && !VistaConsistent(c)).ToArray();
        var onlyVista = all.Where(c => VistaConsistent(c) && !PreVistaConsistent(c)).ToArray();
        if (onlyPre.Length > 0 && onlyVista.Length == 0)
            return (LockCountEncoding.PreVista,
                $"values: LockCount {onlyPre[0].LockCount} with OwningThread 0x{onlyPre[0].OwningThread:x} and RecursionCount {onlyPre[0].RecursionCount} " +
                $"at 0x{onlyPre[0].Address:x} fits only the pre-Vista meaning (-1 free, +1 per waiter)");
        if (onlyVista.Length > 0 && onlyPre.Length == 0)
            return (LockCountEncoding.VistaPlus,
                $"values: LockCount {onlyVista[0].LockCount} with OwningThread 0x{onlyVista[0].OwningThread:x} at 0x{onlyVista[0].Address:x} " +
                "fits only the Vista+ meaning (bit 0 clear = locked)");
        uint? major = _dump.File?.SystemInfo?.MajorVersion;
        string why = onlyPre.Length > 0 ? "values fit both meanings in different locks; " : "";
        return major is { } m && m < 6
            ? (LockCountEncoding.PreVista, $"{why}OS version {m}.x is before Vista")
            : (LockCountEncoding.VistaPlus, $"{why}OS version {(major is { } v ? $"{v}.x" : "unknown")}: Vista or later assumed");
    }

    public IReadOnlyList<DumpCriticalSection> Build(IReadOnlyList<RawCriticalSection> all, LockCountEncoding encoding, string reason,
        IReadOnlyDictionary<uint, WaitFrames> frames, Func<ulong, string?>? resolve)
    {
        var result = new List<DumpCriticalSection>();
        foreach (var c in all)
        {
            bool lockedByCount = encoding == LockCountEncoding.PreVista ? c.LockCount >= 0 : (c.LockCount & 1) == 0;
            bool locked = lockedByCount && c.OwningThread != 0 && c.RecursionCount >= 1;
            // A stack-only candidate must be locked under the dump's meaning; otherwise it is residue.
            if (!c.FromDebugList && !locked) continue;
            bool ownerInDump = c.OwningThread is > 0 and <= uint.MaxValue && _threads.ContainsKey((uint)c.OwningThread);
            var waiters = locked
                ? frames.Values.Where(f => f.IsWaiting && f.Thread.Id != c.OwningThread && f.Slots.Any(s => s.Value == c.Address))
                    .Select(f => f.Thread.Id).Distinct().OrderBy(id => id).ToArray()
                : [];
            result.Add(new DumpCriticalSection
            {
                DumpPath = _dump.Path, PointerSize = _ptr, Address = c.Address,
                Symbol = _dump.ModuleAt(c.Address) is not null ? resolve?.Invoke(c.Address) ?? _dump.Describe(c.Address) : null,
                Location = LocationOf(c.Address),
                Source = c.FromStack && c.FromDebugList ? "Stack, DebugList" : c.FromStack ? "Stack" : "DebugList",
                DebugInfo = c.DebugInfo, LockCount = c.LockCount, RecursionCount = c.RecursionCount, OwningThread = c.OwningThread,
                OwnerThreadName = ownerInDump ? _threads[(uint)c.OwningThread].Name : null,
                LockSemaphore = c.LockSemaphore, SpinCount = c.SpinCount, EntryCount = c.EntryCount, ContentionCount = c.ContentionCount,
                Encoding = encoding, EncodingReason = reason, IsLocked = locked, WaitingThreadIds = waiters,
                IsOrphaned = locked && !ownerInDump,
            });
        }
        return result;
    }

    private string LocationOf(ulong address)
    {
        foreach (var t in _threads.Values)
            if (t.StackBase is { } b && t.StackLimit is { } l && address >= l && address < b)
                return "stack of " + (string.IsNullOrEmpty(t.Name) ? $"0x{t.Id:x}" : $"0x{t.Id:x} ({t.Name})");
        if (_dump.ModuleAt(address) is { } m) return $"{m.Name} data";
        return "heap or other memory";
    }
}
