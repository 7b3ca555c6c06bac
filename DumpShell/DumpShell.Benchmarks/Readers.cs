using System.Buffers.Binary;
using DumpShell.Model;
using Microsoft.Diagnostics.Runtime;
using Microsoft.Diagnostics.Runtime.DataReaders.Implementation;

namespace DumpShell.Benchmarks;

/// <summary>
/// What each benchmark does with a dump, written once so the benchmarks and a quick sanity check
/// share it. Every method reads every property of what it lists and folds it into a checksum, so
/// the JIT cannot drop the work, and returns the checksum.
/// </summary>
internal static class Readers
{
    // ---------------------------------------------------------------- DumpShell

    /// <summary>Get-DumpThread: open, every property of every thread, close.</summary>
    public static long DumpShellThreads(string path)
    {
        using var dump = Dump.Open(path);
        return Threads(dump);
    }

    /// <summary>Get-DumpModule + Get-DumpThread: open, every property of every module and thread, close.</summary>
    public static long DumpShellModulesAndThreads(string path)
    {
        using var dump = Dump.Open(path);
        return Modules(dump) + Threads(dump);
    }

    /// <summary>Get-DumpInfo: open, the summary, close.</summary>
    public static long DumpShellInfo(string path)
    {
        using var dump = Dump.Open(path);
        var i = dump.GetInfo();
        long h = i.FileSize ^ (long)i.DumpTypeFlags ^ i.DumpType.Length ^ (i.Writer?.Length ?? 0)
            ^ (i.DumpTime?.Ticks ?? 0) ^ i.Platform.Length ^ (i.OSVersion?.Length ?? 0) ^ (i.OSBuild ?? 0)
            ^ (i.ServicePack?.Length ?? 0) ^ (i.ProductType?.Length ?? 0) ^ (long)i.Architecture ^ (i.IsWow64 ? 1 : 0)
            ^ (i.ProcessorCount ?? 0) ^ (i.Processor?.Length ?? 0) ^ (i.ProcessId ?? 0) ^ (i.ImageName?.Length ?? 0)
            ^ (i.ImagePath?.Length ?? 0) ^ (i.ProcessCreateTime?.Ticks ?? 0) ^ (i.ProcessUptime?.Ticks ?? 0)
            ^ (i.ProcessUserTime?.Ticks ?? 0) ^ (i.ProcessKernelTime?.Ticks ?? 0) ^ (i.IntegrityLevel?.Length ?? 0)
            ^ (i.TimeZone?.Length ?? 0) ^ (i.BuildString?.Length ?? 0) ^ i.ThreadCount ^ i.ModuleCount
            ^ i.UnloadedModuleCount ^ (i.HandleCount ?? 0) ^ i.MemoryRangeCount ^ (long)i.MemoryBytes
            ^ i.Streams.Length ^ i.Comments.Length ^ i.LastEvent.Length;
        // The cmdlet reports the problems found while reading as warnings.
        return h + dump.Problems.Count;
    }

    private static long Threads(Dump dump)
    {
        long h = 0;
        foreach (var t in dump.Threads)
        {
            h += t.DumpPath.Length + t.Index + t.Id + (t.Name?.Length ?? 0) + (long)t.Teb + t.SuspendCount
                + t.PriorityClass + t.Priority + (t.CreateTime?.Ticks ?? 0) + (t.Age?.Ticks ?? 0)
                + (t.UserTime?.Ticks ?? 0) + (t.KernelTime?.Ticks ?? 0) + (t.TotalCpuTime?.Ticks ?? 0)
                + (long)(t.StartAddress ?? 0) + (long)(t.Affinity ?? 0) + (t.ExitStatus ?? 0)
                + (long)(t.InstructionPointer ?? 0) + (long)(t.StackPointer ?? 0) + (long)(t.FramePointer ?? 0)
                + (long)(t.StackBase ?? 0) + (long)(t.StackLimit ?? 0) + (t.StackBoundsSource?.Length ?? 0)
                + (t.IsExceptionThread ? 1 : 0) + (t.Spiking ? 1 : 0) + (long)t.Architecture;
            foreach (var (name, value) in t.Registers) h += name.Length + (long)value;
        }
        return h;
    }

    private static long Modules(Dump dump)
    {
        long h = 0;
        foreach (var m in dump.Modules)
        {
            h += m.DumpPath.Length + m.Index + (long)m.BaseAddress + m.Size + (long)m.EndAddress + m.Name.Length
                + (m.Path?.Length ?? 0) + (m.FileVersion?.GetHashCode() ?? 0) + (m.ProductVersion?.GetHashCode() ?? 0)
                + m.TimeDateStamp + (m.Timestamp?.Ticks ?? 0) + m.CheckSum + (m.PdbName?.Length ?? 0)
                + (m.PdbGuid?.GetHashCode() ?? 0) + (m.PdbAge ?? 0) + (m.CodeViewFormat?.Length ?? 0)
                + (m.BuildId?.Length ?? 0) + (m.CompanyName?.Length ?? 0) + (m.FileDescription?.Length ?? 0)
                + (m.IsUnloaded ? 1 : 0);
        }
        return h;
    }

    // ---------------------------------------------------------------- ClrMD (Microsoft.Diagnostics.Runtime 4)

    private const uint Amd64ContextAll = 0x0010_001F;
    private const int Amd64ContextSize = 1232;
    private const uint X86ContextAll = 0x0001_003F;
    private const int X86ContextSize = 716;

    /// <summary>
    /// ClrMD's own minidump reader: DataTarget.LoadDump, every module (name, base, size, time stamp,
    /// version, PDB), every thread (id, TEB, full register context: IP, SP, FP), dispose.
    /// </summary>
    public static long ClrMDModulesAndThreads(string path)
    {
        using var dt = DataTarget.LoadDump(path);
        long h = 0;
        foreach (var m in dt.EnumerateModules())
        {
            h += (long)m.ImageBase + m.ImageSize + (m.FileName?.Length ?? 0) + m.IndexTimeStamp + m.IndexFileSize
                + m.Version.GetHashCode() + (long)m.Kind + (m.Pdb?.Path.Length ?? 0) + (m.Pdb?.Guid.GetHashCode() ?? 0)
                + (m.Pdb?.Revision ?? 0);
        }

        var reader = dt.DataReader;
        bool x64 = reader.Architecture == System.Runtime.InteropServices.Architecture.X64;
        Span<byte> context = stackalloc byte[Amd64ContextSize];
        var threads = (IThreadReader)reader;
        foreach (uint tid in threads.EnumerateOSThreadIds())
        {
            h += tid + (long)threads.GetThreadTeb(tid);
            if (x64)
            {
                if (reader.GetThreadContext(tid, Amd64ContextAll, context))
                    h += (long)BinaryPrimitives.ReadUInt64LittleEndian(context[0xF8..])   // Rip
                        + (long)BinaryPrimitives.ReadUInt64LittleEndian(context[0x98..])  // Rsp
                        + (long)BinaryPrimitives.ReadUInt64LittleEndian(context[0xA0..]); // Rbp
            }
            else if (reader.GetThreadContext(tid, X86ContextAll, context[..X86ContextSize]))
            {
                h += BinaryPrimitives.ReadUInt32LittleEndian(context[0xB8..])   // Eip
                    + BinaryPrimitives.ReadUInt32LittleEndian(context[0xC4..])  // Esp
                    + BinaryPrimitives.ReadUInt32LittleEndian(context[0xB4..]); // Ebp
            }
        }
        return h;
    }

    /// <summary>Counts for the sanity check: (modules, threads) as ClrMD sees them.</summary>
    public static (int Modules, int Threads) ClrMDCounts(string path)
    {
        using var dt = DataTarget.LoadDump(path);
        return (dt.EnumerateModules().Count(), ((IThreadReader)dt.DataReader).EnumerateOSThreadIds().Count());
    }
}
