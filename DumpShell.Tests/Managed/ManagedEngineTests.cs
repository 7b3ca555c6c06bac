using System.Buffers.Binary;
using System.Runtime.InteropServices;
using DumpShell.Format.Elf;
using DumpShell.Machine;
using DumpShell.Managed;
using DumpShell.Tests.Synth;
using Microsoft.Diagnostics.Runtime;

namespace DumpShell.Tests.Managed;

/// <summary>The managed layer's parts without PowerShell: the ClrMD data reader, CONTEXT layouts, the DAC locator, the per-dump session.</summary>
[Collection(CoreDumpCollection.Name)]
public sealed class ManagedEngineTests(CoreDumpFixture cores) : IDisposable
{
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("dumpshell-managed-engine-");

    public void Dispose() => _temp.Delete(recursive: true);

    /// <summary>A Windows x64 minidump whose module list holds a .NET runtime module (no image memory).</summary>
    internal static MinidumpBuilder WindowsDotnetMinidump(string name, string path, ushort major, ushort minor, ushort build, ushort revision)
    {
        var b = new MinidumpBuilder { TimeDateStamp = 0x6700_0000 };
        b.AddSystemInfo(new SystemInfoSpec());
        b.AddModuleList(
            new ModuleSpec { BaseOfImage = 0x7FF6_1000_0000, SizeOfImage = 0x2_0000, TimeDateStamp = 0x6600_0000, Name = @"C:\app\app.exe" },
            new ModuleSpec
            {
                BaseOfImage = 0x7FFC_2000_0000, SizeOfImage = 0x49_0000, TimeDateStamp = 0x6612_3456, Name = path,
                VersionInfo = FixedFileInfo.FromVersion(major, minor, build, revision),
            });
        var context = new Amd64Context { ContextFlags = ContextFlags.Amd64Full, Rip = 0x7FFC_2000_1234, Rsp = 0x0000_00AB_CDEF_0000 };
        b.AddThreadList(new ThreadSpec { ThreadId = 0x1234, Context = context.ToSection() });
        return b;
    }

    private string Write(MinidumpBuilder b, string name)
    {
        string path = Path.Combine(_temp.FullName, name);
        b.WriteTo(path);
        return path;
    }

    [Fact]
    public void Amd64_context_layout_is_the_windows_CONTEXT()
    {
        var regs = new Dictionary<string, ulong>
        {
            ["rax"] = 1, ["rcx"] = 2, ["rdx"] = 3, ["rbx"] = 4, ["rsp"] = 0x7000, ["rbp"] = 0x7100, ["rsi"] = 7, ["rdi"] = 8,
            ["r8"] = 9, ["r15"] = 16, ["rip"] = 0x4000_1234, ["eflags"] = 0x246, ["cs"] = 0x33, ["ss"] = 0x2b,
        };
        var bytes = new byte[ThreadContext.Amd64Size];
        bytes.AsSpan().Fill(0xCC);
        Assert.True(ThreadContext.Write(CpuArchitecture.X64, regs, bytes));
        Assert.Equal(0x0010_0007u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(0x30)));
        var ctx = MemoryMarshal.Read<AMD64Context>(bytes);
        Assert.Equal(0x4000_1234UL, ctx.Rip);
        Assert.Equal(0x7000UL, ctx.Rsp);
        Assert.Equal(0x7100UL, ctx.Rbp);
        Assert.Equal(1UL, ctx.Rax);
        Assert.Equal(4UL, ctx.Rbx);
        Assert.Equal(9UL, ctx.R8);
        Assert.Equal(16UL, ctx.R15);
        Assert.Equal(0x246, ctx.EFlags);
        Assert.Equal((ushort)0x33, ctx.Cs);
        Assert.Equal(0UL, ctx.R12); // absent registers are zero, and the rest of the record is cleared
        Assert.Equal(0, bytes[ThreadContext.Amd64Size - 1]);

        // Round trip through DumpShell's own CONTEXT parser.
        var parsed = CpuContext.Parse(CpuArchitecture.X64, bytes)!;
        Assert.Equal(0x4000_1234UL, parsed.InstructionPointer);
        Assert.Equal(0x7000UL, parsed.StackPointer);

        Assert.False(ThreadContext.Write(CpuArchitecture.X64, regs, new byte[100]));
        Assert.False(ThreadContext.Write(CpuArchitecture.X64, new Dictionary<string, ulong> { ["rax"] = 1 }, bytes));
    }

    [Fact]
    public void X86_and_Arm64_context_layouts()
    {
        var x86 = new byte[ThreadContext.X86Size];
        Assert.True(ThreadContext.Write(CpuArchitecture.X86, new Dictionary<string, ulong> { ["eip"] = 0x401000, ["esp"] = 0x19FF00, ["ebp"] = 0x19FF40, ["efl"] = 0x202 }, x86));
        var parsed = CpuContext.Parse(CpuArchitecture.X86, x86)!;
        Assert.Equal(0x401000UL, parsed.InstructionPointer);
        Assert.Equal(0x19FF00UL, parsed.StackPointer);
        Assert.Equal(0x19FF40UL, parsed.FramePointer);

        var arm = new byte[ThreadContext.Arm64Size];
        var regs = ElfRegisters.AArch64Names.Select((n, i) => (n, (ulong)(0x100 + i))).ToDictionary(p => p.n, p => p.Item2);
        Assert.True(ThreadContext.Write(CpuArchitecture.Arm64, regs, arm));
        var ctx = MemoryMarshal.Read<Microsoft.Diagnostics.Runtime.Arm64Context>(arm);
        Assert.Equal(regs["pc"], ctx.Pc);
        Assert.Equal(regs["sp"], ctx.Sp);
        Assert.Equal(regs["x29"], ctx.Fp);
        Assert.Equal(regs["x30"], ctx.Lr);
        Assert.Equal((uint)regs["pstate"], ctx.Cpsr);
    }

    [Fact]
    public void Data_reader_over_a_synthetic_windows_minidump()
    {
        string path = Write(WindowsDotnetMinidump("coreclr.dll", @"C:\dotnet\coreclr.dll", 8, 0, 1124, 51903), "win.dmp");
        using var dump = Dump.Open(path);
        var reader = new DumpDataReader(dump);
        Assert.Equal(OSPlatform.Windows, reader.TargetPlatform);
        Assert.Equal(Architecture.X64, reader.Architecture);
        Assert.Equal(8, reader.PointerSize);
        Assert.Equal(path, reader.DisplayName);
        var modules = reader.EnumerateModules().ToArray();
        Assert.Equal(2, modules.Length);
        var clr = modules.Single(m => m.FileName.EndsWith("coreclr.dll"));
        Assert.Equal(0x7FFC_2000_0000UL, clr.ImageBase);
        Assert.Equal(0x49_0000, clr.IndexFileSize);
        Assert.Equal(0x6612_3456, clr.IndexTimeStamp);
        Assert.Equal(new Version(8, 0, 1124, 51903), clr.Version);
        Assert.Equal([0x1234u], reader.EnumerateOSThreadIds());
        var ctx = new byte[ThreadContext.Amd64Size];
        Assert.True(reader.GetThreadContext(0x1234, 0, ctx));
        Assert.Equal(0x7FFC_2000_1234UL, MemoryMarshal.Read<AMD64Context>(ctx).Rip);
        Assert.False(reader.GetThreadContext(99, 0, ctx));
        Assert.Equal(0, reader.Read(0x10, new byte[8]));
        Assert.False(reader.ReadPointer(0x10, out _));

        var session = ClrSession.For(dump);
        Assert.Same(session, ClrSession.For(dump));
        Assert.Equal("Core", session.RuntimeModule!.Flavor);
        Assert.Equal("8.0.1124.51903", session.RuntimeModule.Version);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(ManagedStatus.DacNotAvailable, session.Status);
            Assert.Null(session.Runtime);
            Assert.Contains("cannot be loaded on this Linux host", session.Failure!.Message);
            Assert.Contains("Analyse the dump on Windows", session.Failure.Remedy);
        }
        ClrSession.Release(dump);
        Assert.NotSame(session, ClrSession.For(dump));
    }

    [Fact]
    public void Native_dump_has_no_CLR_and_creates_no_ClrMD_objects()
    {
        using var dump = Dump.Open(TestData.AllSharedDumps().Select(TestData.Shared).First());
        var session = ClrSession.For(dump);
        Assert.Null(session.RuntimeModule);
        Assert.Equal(ManagedStatus.NoClr, session.Status);
        Assert.Null(session.Runtime);
        Assert.Null(session.Failure);
        Assert.Null(session.Dac);
        Assert.Empty(session.CurrentExceptions());
        Assert.Empty(session.HeapStatistics());
    }

    [Fact]
    public void DAC_locator_matches_a_local_runtime_by_build_id_and_refuses_an_unknown_build()
    {
        if (!OperatingSystem.IsLinux()) return;
        string runtimeDir = RuntimeEnvironment.GetRuntimeDirectory().TrimEnd('/');
        string coreclr = Path.Combine(runtimeDir, "libcoreclr.so");
        string buildId = ElfBuildId.HexFromFile(coreclr)!;
        Assert.NotNull(buildId);

        // A Breakpad-style Linux minidump naming this host's libcoreclr.so under another folder, with its build id.
        MinidumpBuilder Linux(byte[] id)
        {
            var b = new MinidumpBuilder { TimeDateStamp = 0x6700_0000 };
            b.AddSystemInfo(new SystemInfoSpec { PlatformId = 0x8201, MajorVersion = 0, BuildNumber = 0 });
            b.AddModuleList(new ModuleSpec
            {
                BaseOfImage = 0x7F00_0000_0000, SizeOfImage = 0x70_0000, Name = "/somewhere/else/" + Path.GetFileName(runtimeDir) + "/libcoreclr.so",
                CvRecord = new Section("cv-elf").U32(0x4270454C).Bytes(id),
            });
            return b;
        }

        using (var dump = Dump.Open(Write(Linux(Convert.FromHexString(buildId)), "linux.dmp")))
        {
            var module = ClrRuntimeModule.Find(dump)!;
            Assert.Equal(Path.GetFileName(runtimeDir), module.Version);
            var dac = DacLocator.Resolve(dump, module, null);
            Assert.True(dac.Found, dac.Failure);
            Assert.Equal("libmscordaccore.so", Path.GetFileName(dac.DacPath));
            Assert.True(File.Exists(dac.DacPath));
            Assert.Equal(buildId, ElfBuildId.HexFromFile(Path.Combine(Path.GetDirectoryName(dac.DacPath)!, "libcoreclr.so")));
            Assert.Contains(buildId, dac.HowFound);
            Assert.StartsWith("Local runtime under", dac.HowFound);

            var given = DacLocator.Resolve(dump, module, dac.DacPath);
            Assert.Equal(DacLocator.HowUser, given.HowFound);
        }

        using (var dump = Dump.Open(Write(Linux(new byte[20]), "linux-unknown.dmp")))
        {
            var dac = DacLocator.Resolve(dump, ClrRuntimeModule.Find(dump)!, null);
            Assert.False(dac.Found);
            Assert.Null(dac.DacPath);
            Assert.Contains(new string('0', 40), dac.Failure);
            Assert.Contains("-DacPath", dac.Remedy);
            // The session says the same, and never makes a runtime.
            var session = ClrSession.For(dump);
            Assert.Equal(ManagedStatus.DacNotAvailable, session.Status);
            Assert.Contains(Path.GetFileName(runtimeDir), session.Failure!.RuntimeVersion);
        }
    }

    [Fact]
    public void Session_over_the_crash_core_makes_one_runtime_and_releases_it()
    {
        using var dump = Dump.Open(cores.Crash.CorePath);
        var session = ClrSession.For(dump);
        Assert.Equal(ManagedStatus.Ready, session.Status);
        var runtime = session.Runtime!;
        Assert.Same(runtime, ClrSession.For(dump).Runtime);
        // ClrMD read the dump through DumpShell's reader, not a file of its own.
        Assert.IsType<DumpDataReader>(runtime.DataTarget.DataReader);
        Assert.Contains(runtime.Threads, t => t.OSThreadId == (uint)cores.Crash.Thread("worker-crash").OsId!.Value);
        ClrSession.Release(dump);
        Assert.Throws<ObjectDisposedException>(() => session.Runtime);
    }
}
