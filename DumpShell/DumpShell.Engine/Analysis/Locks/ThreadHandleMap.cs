using DumpShell.Model;

namespace DumpShell.Analysis.Locks;

/// <summary>
/// Which thread a thread handle names, when the dump's HandleData carries no object information for it. The pairing is
/// made only when it is forced: the process holds exactly one Thread handle per thread after the first (the first
/// thread's own handle is not in the table), every thread has a distinct create time (ThreadInfoList), the first-created
/// thread is the one without a handle, and handle values grew with creation (the pairing of handles by value with threads
/// by create time). Otherwise no thread handle is paired.
/// </summary>
internal static class ThreadHandleMap
{
    public static IReadOnlyDictionary<ulong, uint> Infer(Dump dump, IReadOnlyDictionary<uint, DumpThread> threads)
    {
        if (!dump.HasHandleData) return new Dictionary<ulong, uint>();
        var handles = dump.Handles.Where(h => string.Equals(h.Type, "Thread", StringComparison.OrdinalIgnoreCase))
            .Select(h => h.Handle).Distinct().OrderBy(h => h).ToArray();
        var byCreation = threads.Values.Where(t => t.CreateTime is not null).OrderBy(t => t.CreateTime).ToArray();
        if (handles.Length == 0 || byCreation.Length != threads.Count || handles.Length != threads.Count - 1
            || byCreation.Select(t => t.CreateTime).Distinct().Count() != byCreation.Length)
            return new Dictionary<ulong, uint>();
        var map = new Dictionary<ulong, uint>();
        for (int i = 0; i < handles.Length; i++) map[handles[i]] = byCreation[i + 1].Id;
        return map;
    }
}
