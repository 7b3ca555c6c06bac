using DumpShell.Model;

namespace DumpShell.Tests.Engine;

/// <summary>Reads every model and format property of a dump, so that a test can say "none of this throws".</summary>
internal static class EngineProbe
{
    public static void TouchEverything(Dump dump)
    {
        _ = dump.Path;
        _ = dump.Architecture;
        _ = dump.PointerSize;
        _ = dump.Platform;
        _ = dump.DumpTime;
        _ = dump.GetInfo();
        _ = dump.GetStreams().ToArray();
        _ = dump.IsWow64;

        foreach (var t in dump.Threads)
        {
            _ = t.Registers.Count;
            _ = t.StackBase;
        }
        foreach (var m in dump.Modules)
        {
            _ = dump.Describe(m.BaseAddress);
            _ = m.EndAddress;
        }
        _ = dump.UnloadedModules.Count;

        var e = dump.Exception;
        for (var x = e; x is not null; x = x.Nested) _ = x.Description;

        _ = dump.HasHandleData;
        _ = dump.Handles.ToArray();
        _ = dump.HandleSummary.ToArray();

        var memory = dump.Memory;
        _ = memory.RangeCount;
        _ = memory.TotalBytes;
        var buffer = new byte[64];
        foreach (var (start, size) in memory.Ranges.Take(32))
        {
            memory.Read(start, buffer);
            memory.Read(start + size - 1, buffer);
        }
        foreach (var format in Enum.GetValues<MemoryFormat>())
        {
            foreach (var t in dump.Threads.Take(4))
                if (t.StackPointer is { } sp) _ = dump.ReadMemoryRows(sp, 32, format).ToArray();
            _ = dump.ReadMemoryRows(0, 16, format).ToArray();
            _ = dump.ReadMemoryRows(ulong.MaxValue - 7, 16, format).ToArray();
        }
        if (e is not null) _ = dump.ReadExceptionRecord(e.ThreadId, e.Address);

        var f = dump.File!;
        _ = f.SystemInfo;
        _ = f.MiscInfo;
        _ = f.Threads.Count;
        foreach (var t in f.Threads) _ = f.ThreadContextBytes(t).Length;
        _ = f.ThreadInfos.Count;
        _ = f.ThreadNames.Count;
        _ = f.Modules.Count;
        _ = f.WineUnixModules.Count;
        _ = f.UnloadedModules.Count;
        _ = f.MemoryRanges.Count;
        _ = f.MemoryInfos.Count;
        _ = f.Exception;
        _ = f.Handles;
        _ = f.Comments.Count;
        _ = f.ProcessVmCounters;
        _ = f.SystemMemoryInfo;
        foreach (var entry in f.Directory) _ = f.StreamBytes(entry).Length;
        _ = dump.Problems.Count;
    }
}
