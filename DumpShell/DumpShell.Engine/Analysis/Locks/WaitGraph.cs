using DumpShell.Model;

namespace DumpShell.Analysis.Locks;

/// <summary>
/// The wait graph (patterns.md, Shared building blocks 6): thread → object it waits on → the thread that holds it.
/// Chains are followed from every waiting thread to their end; a thread met twice closes a cycle (a deadlock).
/// </summary>
internal sealed class WaitGraph
{
    private readonly Dump _dump;
    private readonly Dictionary<uint, ThreadWait> _waits;
    private readonly Func<uint, string?> _nameOf;
    private readonly Func<uint, bool> _isThread;

    /// <param name="nameOf">A thread's name (the dump's, else the managed Thread.Name), or null.</param>
    /// <param name="isThread">True for a thread of the dump.</param>
    public WaitGraph(Dump dump, IReadOnlyList<ThreadWait> waits, Func<uint, string?> nameOf, Func<uint, bool> isThread)
    {
        _dump = dump;
        _nameOf = nameOf;
        _isThread = isThread;
        _waits = waits.GroupBy(w => w.ThreadId).ToDictionary(g => g.Key, g => g.First());
        var chains = new List<WaitChain>();
        var cycles = new Dictionary<string, WaitCycle>();
        var feeders = new Dictionary<string, HashSet<uint>>();
        foreach (var w in waits.Where(w => w.IsWaiting && w.Objects.Count > 0))
            foreach (var path in Paths(w.ThreadId))
            {
                chains.Add(path.Chain);
                if (path.Cycle is { } c)
                {
                    string key = string.Join(",", c.Select(l => l.ThreadId));
                    cycles.TryAdd(key, new WaitCycle { Links = c });
                    if (!feeders.TryGetValue(key, out var set)) feeders[key] = set = [];
                    foreach (uint t in path.Chain.ThreadIds) if (c.All(l => l.ThreadId != t)) set.Add(t);
                }
            }
        Chains = chains;
        Cycles = cycles.Select(kv => new WaitCycle { Links = kv.Value.Links, FeedingThreadIds = [.. feeders[kv.Key].Order()] }).ToArray();
    }

    public IReadOnlyList<WaitChain> Chains { get; }
    public IReadOnlyList<WaitCycle> Cycles { get; }

    private string Label(uint tid) => _nameOf(tid) is { Length: > 0 } n ? $"0x{tid:x} ({n})" : $"0x{tid:x}";

    /// <summary>Every path from <paramref name="start"/>, branching where a thread waits on several objects (at most 64 paths).</summary>
    private IEnumerable<(WaitChain Chain, IReadOnlyList<WaitChainLink>? Cycle)> Paths(uint start)
    {
        var results = new List<(WaitChain, IReadOnlyList<WaitChainLink>?)>();
        var links = new List<WaitChainLink>();
        var onPath = new List<uint>();

        void Walk(uint tid)
        {
            if (results.Count >= 64) return;
            int seenAt = onPath.IndexOf(tid);
            if (seenAt >= 0)
            {
                var cycle = links.Skip(seenAt).ToList();
                int min = cycle.Select((l, i) => (l.ThreadId, i)).Min().i;
                var canonical = cycle.Skip(min).Concat(cycle.Take(min)).ToArray();
                results.Add((Make(start, links, [.. onPath], isCycle: true, $"cycle: back to {Label(tid)} (deadlock)"), canonical));
                return;
            }
            onPath.Add(tid);
            var w = _waits.GetValueOrDefault(tid);
            if (w is null || !w.IsWaiting || w.Objects.Count == 0)
            {
                if (links.Count > 0)
                {
                    string end = w is null ? _isThread(tid) ? $"{Label(tid)} is not waiting (no wait recovered)" : $"{Label(tid)} is not a thread of the dump"
                        : !w.IsWaiting ? $"{Label(tid)} is not waiting ({w.Note}; at {w.TopFrame ?? "unknown"})"
                        : $"{Label(tid)} waits on an object that could not be recovered ({w.Note})";
                    results.Add((Make(start, links, [.. onPath], false, end), null));
                }
                onPath.RemoveAt(onPath.Count - 1);
                return;
            }
            foreach (var o in w.Objects)
            {
                links.Add(new WaitChainLink { ThreadId = tid, ThreadName = w.ThreadName, Object = o });
                if (o.OwnerThreadId is { } next && next != tid) Walk(next);
                else results.Add((Make(start, links, [.. onPath], false, o.Owner), null));
                links.RemoveAt(links.Count - 1);
                if (results.Count >= 64) break;
            }
            onPath.RemoveAt(onPath.Count - 1);
        }

        Walk(start);
        return results;
    }

    private WaitChain Make(uint start, List<WaitChainLink> links, uint[] threads, bool isCycle, string end) => new()
    {
        DumpPath = _dump.Path, PointerSize = _dump.PointerSize, ThreadId = start,
        ThreadName = _nameOf(start),
        Links = [.. links], ThreadIds = threads, IsCycle = isCycle, End = end,
    };
}
