using DumpShell.Tests.Synth;

namespace DumpShell.Benchmarks;

/// <summary>
/// A synthetic full-memory x64 minidump of <see cref="TotalMemory"/> bytes of captured memory, written
/// with the test builder as a sparse file: the memory ranges are file holes, so it takes a few
/// megabytes on disk and well under a second to write, while its length, directory and Memory64List
/// are those of a 4 GiB dump. Layout: 1024 ranges of 4 MiB, 4 MiB apart; thread i's TEB in range i,
/// its 16 KiB stack at the top of range 1023-i (the stack descriptors point at their own holes);
/// the 12 modules outside the captured memory (see <see cref="ModuleBase"/>). All captured bytes read
/// as zeros, so TEB stack bounds fall back to the stack descriptors.
/// </summary>
internal sealed class LargeDump : IDisposable
{
    public const int RangeCount = 1024;
    public const long RangeSize = 4L << 20;                 // 4 MiB
    public const long TotalMemory = RangeCount * RangeSize; // 4 GiB
    public const int ThreadCount = 50;
    public const int ModuleCount = 12;

    private const ulong MemoryBase = 0x0000_0200_0000_0000;
    /// <summary>Ranges are 4 MiB apart with a 4 MiB gap, as a real process's regions are not contiguous.</summary>
    private const ulong RangeStride = 2 * (ulong)RangeSize;
    /// <summary>
    /// Module images lie outside the captured ranges. In a real full dump they are captured, but here their
    /// bytes would be zeros, and ClrMD 4.2 on Linux cannot read memory of a dump larger than its cache size:
    /// its CachedMemoryReader calls msvcrt.dll's memcpy (DllNotFoundException). So neither reader parses
    /// PE headers on this dump; the small real dump covers that.
    /// </summary>
    private const ulong ModuleBase = 0x0000_7FF8_0000_0000;
    private const uint ModuleSize = 0x0020_0000;

    private readonly string _folder;

    public string Path { get; }

    private LargeDump(string folder, string path)
    {
        _folder = folder;
        Path = path;
    }

    /// <summary>Writes the dump into a new temporary folder; <see cref="Dispose"/> deletes the folder.</summary>
    public static LargeDump Create()
    {
        string folder = Directory.CreateTempSubdirectory("dumpshell-bench-").FullName;
        string path = System.IO.Path.Combine(folder, "full-4gib-x64.dmp");
        try
        {
            Build().WriteTo(path);
            return new LargeDump(folder, path);
        }
        catch
        {
            TryDelete(folder);
            throw;
        }
    }

    private static MinidumpBuilder Build()
    {
        var b = new MinidumpBuilder
        {
            TimeDateStamp = 1_735_689_600, // 2025-01-01
            // WithFullMemory, WithHandleData, WithUnloadedModules, WithFullMemoryInfo, WithThreadInfo: a usual full dump.
            Flags = 0x0000_0000_0000_1826,
        };
        b.AddSystemInfo(new SystemInfoSpec { ProcessorArchitecture = ProcessorArchitecture.Amd64, NumberOfProcessors = 8 });
        b.AddMiscInfo(new MiscInfoSpec
        {
            Version = 5, ProcessId = 4242, ProcessCreateTime = 1_735_689_000, ProcessUserTime = 12, ProcessKernelTime = 3,
        });

        var threads = new List<ThreadSpec>(ThreadCount);
        var infos = new List<ThreadInfoSpec>(ThreadCount);
        ulong dumpFileTime = (ulong)DateTime.UnixEpoch.AddSeconds(1_735_689_600).ToFileTimeUtc();
        for (int i = 0; i < ThreadCount; i++)
        {
            uint tid = 0x1000 + (uint)i * 4;
            // The TEB and the stack both lie inside captured (sparse) Memory64 ranges, as in a full dump.
            ulong teb = RangeAddress(i) + 0x1000;
            ulong stackBase = RangeAddress(RangeCount - 1 - i) + (ulong)RangeSize;
            ulong rsp = stackBase - 0x2000 - (ulong)i * 0x40;
            threads.Add(new ThreadSpec
            {
                ThreadId = tid,
                Priority = (uint)(i % 3),
                Teb = teb,
                Stack = new MemoryBlock(stackBase - 0x4000, new Section($"stack-{i}").Hole(0x4000)),
                Context = new Amd64Context
                {
                    Rip = ModuleAddress(i % ModuleCount) + 0x1234,
                    Rsp = rsp, Rbp = rsp + 0x80, Rax = (ulong)i, Rcx = tid, ContextFlags = ContextFlags.Amd64All,
                }.ToSection(),
            });
            infos.Add(new ThreadInfoSpec
            {
                ThreadId = tid,
                CreateTime = dumpFileTime - (ulong)TimeSpan.FromMinutes(10 + i).Ticks,
                UserTime = (ulong)TimeSpan.FromMilliseconds(100 * i).Ticks,
                KernelTime = (ulong)TimeSpan.FromMilliseconds(10 * i).Ticks,
                StartAddress = ModuleAddress(0) + 0x1000,
                Affinity = 0xFF,
            });
        }
        b.AddThreadList(threads);
        b.AddThreadInfoList(infos);

        var modules = new List<ModuleSpec>(ModuleCount);
        string[] names = ["bench.exe", "ntdll.dll", "kernel32.dll", "KernelBase.dll", "ucrtbase.dll", "msvcp140.dll",
            "vcruntime140.dll", "user32.dll", "win32u.dll", "gdi32.dll", "advapi32.dll", "sechost.dll"];
        for (int i = 0; i < ModuleCount; i++)
        {
            string file = names[i];
            string folder = i == 0 ? @"C:\bench\" : @"C:\Windows\System32\";
            modules.Add(new ModuleSpec
            {
                BaseOfImage = ModuleAddress(i),
                SizeOfImage = ModuleSize - 0x1000,
                TimeDateStamp = 0x6500_0000u + (uint)i,
                CheckSum = 0x1_0000u + (uint)i,
                Name = folder + file,
                VersionInfo = FixedFileInfo.FromVersion(10, 0, 19041, (ushort)(1000 + i)),
                CvRecord = CodeView.Rsds(new Guid(i + 1, 2, 3, [4, 5, 6, 7, 8, 9, 10, 11]), 1,
                    System.IO.Path.ChangeExtension(file, ".pdb")),
            });
        }
        b.AddModuleList(modules);

        b.AddMemory64List();
        for (int i = 0; i < RangeCount; i++) b.SparseMemory(RangeAddress(i), RangeSize);
        return b;
    }

    private static ulong RangeAddress(int i) => MemoryBase + (ulong)i * RangeStride;
    private static ulong ModuleAddress(int i) => ModuleBase + (ulong)i * ModuleSize;

    public void Dispose() => TryDelete(_folder);

    private static void TryDelete(string folder)
    {
        try { Directory.Delete(folder, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
