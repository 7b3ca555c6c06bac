using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using Xunit;

namespace DumpShell.Tests.Synth;

/// <summary>
/// Checks of the synthetic minidump builder's own mechanics (label fix-ups, byte layouts, file
/// output). These read the built bytes directly; they do not exercise the DumpShell parser.
/// </summary>
public class SectionTests
{
    private static uint U32(byte[] b, long at) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan((int)at));
    private static ulong U64(byte[] b, long at) => BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan((int)at));
    private static ushort U16(byte[] b, long at) => BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan((int)at));

    /// <summary>Directory entry i: (type, dataSize, rva).</summary>
    private static (uint Type, uint Size, uint Rva) Entry(byte[] dump, int i)
    {
        long at = U32(dump, 12) + 12L * i;
        return (U32(dump, at), U32(dump, at + 4), U32(dump, at + 8));
    }

    private static string MinidumpStringAt(byte[] dump, long rva)
        => Encoding.Unicode.GetString(dump, (int)rva + 4, (int)U32(dump, rva));

    [Fact]
    public void LabelsAreFixedUpAfterTheyAreDefined()
    {
        var later = new Label("later");
        var s = new Section("s").U32(later).U64(later + 4).U16(later - 1).U8(Label.Const(0xAB));
        later.Set(0x1234);

        var b = new MinidumpBuilder();
        b.Add(s);
        byte[] dump = b.Build();
        long at = (long)s.Start.Value;

        Assert.Equal(0x1234u, U32(dump, at));
        Assert.Equal(0x1238ul, U64(dump, at + 4));
        Assert.Equal((ushort)0x1233, U16(dump, at + 12));
        Assert.Equal(0xAB, dump[at + 14]);
        Assert.Equal(15ul, s.FinalSize.Value);
    }

    [Fact]
    public void MarksBindFileOffsetsAndLabelArithmeticWorks()
    {
        var a = new Label("a");
        var c = new Label("c");
        var first = new Section("first").U32(c - a).U32(c).Mark(a).Zeros(10).Mark(c).U8(1);
        var second = new Section("second").U32(first.End).U32(first.Start);

        var b = new MinidumpBuilder();
        b.Add(first);
        b.Add(second);
        byte[] dump = b.Build();

        long start = (long)first.Start.Value;
        Assert.Equal(0u, (uint)start % 4);
        Assert.Equal(10u, U32(dump, start));                 // c - a
        Assert.Equal((uint)(start + 18), U32(dump, start + 4)); // c = start + 8 + 10
        Assert.Equal(a.Value + 10, c.Value);
        long s2 = (long)second.Start.Value;
        Assert.Equal((uint)(start + first.Size), U32(dump, s2));
        Assert.Equal((uint)start, U32(dump, s2 + 4));
        Assert.True(s2 >= start + first.Size && s2 % 4 == 0);
    }

    [Fact]
    public void UnboundLabelFailsTheBuildWithItsName()
    {
        var b = new MinidumpBuilder();
        b.Add(new Section().U32(new Label("nowhere")));
        var ex = Assert.Throws<InvalidOperationException>(() => b.Build());
        Assert.Contains("nowhere", ex.Message);
    }

    [Fact]
    public void AlignAndAppendKeepOffsetsConsistent()
    {
        var inner = new Section("inner").U32(0xCAFEBABE);
        var outer = new Section("outer").U8(1).Align(16).Append(inner).U32(inner.Start);

        var b = new MinidumpBuilder();
        b.Add(new Section("pad").U8(0xFF));
        b.Add(outer);
        byte[] dump = b.Build();

        Assert.Equal(0ul, outer.Start.Value % 16);
        Assert.Equal(outer.Start.Value + 16, inner.Start.Value);
        Assert.Equal(0xCAFEBABEu, U32(dump, (long)inner.Start.Value));
        Assert.Equal((uint)inner.Start.Value, U32(dump, (long)inner.Start.Value + 4));
        Assert.Throws<InvalidOperationException>(() => inner.U8(0));
    }

    [Fact]
    public void MinidumpStringHasByteLengthUtf16AndTerminator()
    {
        byte[] bytes = new Section().MinidumpString("Hi\u00e9").ToArray();
        Assert.Equal(new byte[] { 6, 0, 0, 0, (byte)'H', 0, (byte)'i', 0, 0xE9, 0, 0, 0 }, bytes);

        Assert.Equal(new byte[] { 0, 0, 0, 0, 0, 0 }, new Section().MinidumpString("").ToArray());
        Assert.Equal(new byte[] { 0xFF, 0, 0, 0, (byte)'x', 0, 0, 0 }, new Section().MinidumpString("x", 0xFF).ToArray());
    }

    [Fact]
    public void HeaderAndDirectoryAreAtTheirSpecifiedOffsets()
    {
        var b = new MinidumpBuilder { TimeDateStamp = 0x5F5E1000, Flags = WinConst.MiniDumpWithFullMemory | WinConst.MiniDumpWithHandleData, CheckSum = 7 };
        b.AddCommentA("hello");
        b.AddSystemInfo(new SystemInfoSpec { ProcessorArchitecture = ProcessorArchitecture.Amd64, BuildNumber = 22631, CsdVersion = "SP9", NumberOfProcessors = 8 });
        byte[] dump = b.Build();

        Assert.Equal(0x504D444Du, U32(dump, 0));
        Assert.Equal("MDMP", Encoding.ASCII.GetString(dump, 0, 4));
        Assert.Equal(0xA793u, U32(dump, 4));
        Assert.Equal(2u, U32(dump, 8));
        Assert.Equal(32u, U32(dump, 12));
        Assert.Equal(7u, U32(dump, 16));
        Assert.Equal(0x5F5E1000u, U32(dump, 20));
        Assert.Equal(0x6ul, U64(dump, 24));

        var comment = Entry(dump, 0);
        Assert.Equal(10u, comment.Type);
        Assert.Equal(6u, comment.Size);
        Assert.Equal("hello\0", Encoding.ASCII.GetString(dump, (int)comment.Rva, 6));

        var sys = Entry(dump, 1);
        Assert.Equal(7u, sys.Type);
        Assert.Equal(56u, sys.Size);
        Assert.Equal(9, U16(dump, sys.Rva));
        Assert.Equal(8, dump[sys.Rva + 6]);
        Assert.Equal(10u, U32(dump, sys.Rva + 8));
        Assert.Equal(22631u, U32(dump, sys.Rva + 16));
        Assert.Equal(2u, U32(dump, sys.Rva + 20));
        Assert.Equal("SP9", MinidumpStringAt(dump, U32(dump, sys.Rva + 24)));
    }

    [Fact]
    public void X86SystemInfoWritesVendorId()
    {
        var b = new MinidumpBuilder();
        var s = b.AddSystemInfo(new SystemInfoSpec { ProcessorArchitecture = ProcessorArchitecture.X86, VendorId = "GenuineIntel", VersionInformation = 0x906EA, FeatureInformation = 0xBFEBFBFF });
        byte[] dump = b.Build();
        long at = (long)s.Start.Value;
        Assert.Equal("GenuineIntel", Encoding.ASCII.GetString(dump, (int)at + 32, 12));
        Assert.Equal(0x906EAu, U32(dump, at + 44));
        Assert.Equal(0xBFEBFBFFu, U32(dump, at + 48));
        Assert.Equal(56ul, s.FinalSize.Value);
    }

    [Fact]
    public void ThreadListCitesStackAndContext()
    {
        var b = new MinidumpBuilder();
        var stack = b.AddMemory(0x7FF0_0000, Enumerable.Range(0, 64).Select(i => (byte)i).ToArray());
        var ctx = b.Add(Contexts.Amd64(rip: 0x1400_0100, rsp: 0x7FF0_0010, rbp: 0x7FF0_0030));
        b.AddThreadList(new ThreadSpec { ThreadId = 0x1A4, SuspendCount = 1, Priority = 2, Teb = 0x3000, Stack = stack, Context = ctx });
        b.AddMemoryList(stack);
        byte[] dump = b.Build();

        var list = Entry(dump, 0);
        Assert.Equal(3u, list.Type);
        Assert.Equal(4u + 48u, list.Size);
        long t = list.Rva + 4;
        Assert.Equal(1u, U32(dump, list.Rva));
        Assert.Equal(0x1A4u, U32(dump, t));
        Assert.Equal(1u, U32(dump, t + 4));
        Assert.Equal(0x20u, U32(dump, t + 8));
        Assert.Equal(2u, U32(dump, t + 12));
        Assert.Equal(0x3000ul, U64(dump, t + 16));
        Assert.Equal(0x7FF0_0000ul, U64(dump, t + 24));
        Assert.Equal(64u, U32(dump, t + 32));
        uint stackRva = U32(dump, t + 36);
        Assert.Equal(63, dump[stackRva + 63]);
        Assert.Equal(1232u, U32(dump, t + 40));
        uint ctxRva = U32(dump, t + 44);
        Assert.Equal(ContextFlags.Amd64Full, U32(dump, ctxRva + 0x30));
        Assert.Equal(0x1400_0100ul, U64(dump, ctxRva + 0xF8));
        Assert.Equal(0x7FF0_0010ul, U64(dump, ctxRva + 0x98));
        Assert.Equal(0x7FF0_0030ul, U64(dump, ctxRva + 0xA0));

        // The memory list cites the same bytes as the thread's stack.
        var mem = Entry(dump, 1);
        Assert.Equal(5u, mem.Type);
        Assert.Equal(4u + 16u, mem.Size);
        Assert.Equal(0x7FF0_0000ul, U64(dump, mem.Rva + 4));
        Assert.Equal(64u, U32(dump, mem.Rva + 12));
        Assert.Equal(stackRva, U32(dump, mem.Rva + 16));
    }

    [Fact]
    public void X86ContextHasRegistersAtSpecifiedOffsets()
    {
        byte[] c = new X86Context { Eip = 0x401000, Esp = 0x19FF00, Ebp = 0x19FF40, Eax = 5 }.ToBytes();
        Assert.Equal(716, c.Length);
        Assert.Equal(ContextFlags.X86Full, U32(c, 0));
        Assert.Equal(0x401000u, U32(c, 0xB8));
        Assert.Equal(0x19FF00u, U32(c, 0xC4));
        Assert.Equal(0x19FF40u, U32(c, 0xB4));
        Assert.Equal(5u, U32(c, 0xB0));
        Assert.Equal(0x23u, U32(c, 0xBC));

        byte[] a = new Arm64Context { Pc = 0x1000, Sp = 0x2000, Fp = 0x3000, Lr = 0x4000 }.ToBytes();
        Assert.Equal(912, a.Length);
        Assert.Equal(0x1000ul, U64(a, 0x108));
        Assert.Equal(0x2000ul, U64(a, 0x100));
        Assert.Equal(0x3000ul, U64(a, 0xF0));
        Assert.Equal(0x4000ul, U64(a, 0xF8));
        Assert.Equal(1232, new Amd64Context().ToBytes().Length);
    }

    [Fact]
    public void ModuleEntriesAre108BytesWithNameVersionAndCodeView()
    {
        var guid = new Guid("11223344-5566-7788-99aa-bbccddeeff00");
        var b = new MinidumpBuilder();
        b.AddModuleList(
            new ModuleSpec { BaseOfImage = 0x1_4000_0000, SizeOfImage = 0x5000, TimeDateStamp = 0x600D, Name = @"C:\app\app.exe",
                             VersionInfo = FixedFileInfo.FromVersion(1, 2, 3, 4), CvRecord = CodeView.Rsds(guid, 3, "app.pdb") },
            new ModuleSpec { BaseOfImage = 0x7FFE_0000_0000, SizeOfImage = 0x1000, Name = "ntdll.dll", CvRecord = CodeView.Nb10(0xABCD, 2, "old.pdb") });
        byte[] dump = b.Build();

        var list = Entry(dump, 0);
        Assert.Equal(4u, list.Type);
        Assert.Equal(4u + 2 * 108u, list.Size);
        Assert.Equal(2u, U32(dump, list.Rva));
        long m0 = list.Rva + 4, m1 = m0 + 108;
        Assert.Equal(0x1_4000_0000ul, U64(dump, m0));
        Assert.Equal(0x5000u, U32(dump, m0 + 8));
        Assert.Equal(0x600Du, U32(dump, m0 + 16));
        Assert.Equal(@"C:\app\app.exe", MinidumpStringAt(dump, U32(dump, m0 + 20)));
        Assert.Equal(0xFEEF04BDu, U32(dump, m0 + 24));
        Assert.Equal(0x0001_0002u, U32(dump, m0 + 24 + 8));  // FileVersionMS
        Assert.Equal(0x0003_0004u, U32(dump, m0 + 24 + 12)); // FileVersionLS

        uint cvSize = U32(dump, m0 + 76), cvRva = U32(dump, m0 + 80);
        Assert.Equal(4u + 16 + 4 + 8, cvSize);
        Assert.Equal("RSDS", Encoding.ASCII.GetString(dump, (int)cvRva, 4));
        Assert.Equal(guid, new Guid(dump.AsSpan((int)cvRva + 4, 16)));
        Assert.Equal(3u, U32(dump, cvRva + 20));
        Assert.Equal("app.pdb\0", Encoding.UTF8.GetString(dump, (int)cvRva + 24, 8));
        Assert.Equal(0ul, U64(dump, m0 + 84)); // MiscRecord

        Assert.Equal(0x7FFE_0000_0000ul, U64(dump, m1));
        Assert.Equal("ntdll.dll", MinidumpStringAt(dump, U32(dump, m1 + 20)));
        Assert.Equal(0u, U32(dump, m1 + 24)); // no VS_FIXEDFILEINFO
        uint nbRva = U32(dump, m1 + 80);
        Assert.Equal("NB10", Encoding.ASCII.GetString(dump, (int)nbRva, 4));
        Assert.Equal(0xABCDu, U32(dump, nbRva + 8));
        Assert.Equal(2u, U32(dump, nbRva + 12));
        Assert.Equal("old.pdb\0", Encoding.ASCII.GetString(dump, (int)nbRva + 16, 8));
    }

    [Fact]
    public void FixedSizeRecordsHaveTheirSpecifiedSizes()
    {
        var b = new MinidumpBuilder();
        var exception = b.AddException(new ExceptionSpec { ThreadId = 1, ExceptionCode = WinConst.StatusAccessViolation, Parameters = [1, 0xDEAD], Context = Contexts.X86(1, 2, 3) });
        var misc = Enumerable.Range(1, 5).Select(v => b.AddMiscInfo(new MiscInfoSpec { Version = v, ProcessId = 42 })).ToArray();
        var threadInfo = b.AddThreadInfoList([new ThreadInfoSpec { ThreadId = 1 }]);
        var names = b.AddThreadNames([(1u, "main")]);
        var handles1 = b.AddHandleData([new HandleSpec { Handle = 4, TypeName = "Event" }], descriptorVersion: 1);
        var handles2 = b.AddHandleData([new HandleSpec { Handle = 8, ObjectName = @"\BaseNamedObjects\x" }]);
        var unloaded = b.AddUnloadedModuleList([new UnloadedModuleSpec { BaseOfImage = 0x1000, Name = "gone.dll" }]);
        var memInfo = b.AddMemoryInfoList([new MemoryInfoSpec { BaseAddress = 0x1000, RegionSize = 0x1000 }]);
        var sysMem1 = b.AddSystemMemoryInfo(new SystemMemoryInfoSpec());
        var sysMem2 = b.AddSystemMemoryInfo(new SystemMemoryInfoSpec { Revision = 2 });
        var vm1 = b.AddProcessVmCounters(new VmCountersSpec { Revision = 1, PrivateUsage = 0x77 });
        var vm2 = b.AddProcessVmCounters(new VmCountersSpec { Revision = 2, PrivateUsage = 0x88 });
        var threadEx = b.AddThreadExList([new ThreadSpec { ThreadId = 9 }]);
        var breakpad = b.AddBreakpadInfo(1, null);
        byte[] dump = b.Build();

        Assert.Equal(168ul, exception.FinalSize.Value);
        Assert.Equal(new ulong[] { 24, 44, 232, 832, 1364 }, misc.Select(m => m.FinalSize.Value));
        Assert.Equal(12ul + 64, threadInfo.FinalSize.Value);
        Assert.Equal(4ul + 12, names.FinalSize.Value);
        Assert.Equal(16ul + 32, handles1.FinalSize.Value);
        Assert.Equal(16ul + 40, handles2.FinalSize.Value);
        Assert.Equal(12ul + 24, unloaded.FinalSize.Value);
        Assert.Equal(16ul + 48, memInfo.FinalSize.Value);
        Assert.Equal(492ul, sysMem1.FinalSize.Value);
        Assert.Equal(524ul, sysMem2.FinalSize.Value);
        Assert.Equal(80ul, vm1.FinalSize.Value);
        Assert.Equal(152ul, vm2.FinalSize.Value);
        Assert.Equal(4ul + 64, threadEx.FinalSize.Value);
        Assert.Equal(12ul, breakpad.FinalSize.Value);

        // Spot checks of field positions.
        long e = (long)exception.Start.Value;
        Assert.Equal(WinConst.StatusAccessViolation, U32(dump, e + 8));
        Assert.Equal(2u, U32(dump, e + 32));
        Assert.Equal(0xDEADul, U64(dump, e + 48));
        Assert.Equal(716u, U32(dump, e + 160));
        Assert.Equal(3u, U32(dump, U32(dump, e + 164) + 0xB4)); // Ebp of the context

        long n = (long)names.Start.Value;
        Assert.Equal("main", MinidumpStringAt(dump, (long)U64(dump, n + 8)));
        Assert.Equal("Event", MinidumpStringAt(dump, U32(dump, (long)handles1.Start.Value + 16 + 8)));
        Assert.Equal(0x77ul, U64(dump, (long)vm1.Start.Value + 72));
        Assert.Equal(0x88ul, U64(dump, (long)vm2.Start.Value + 88));
        Assert.Equal(MiscInfoFlags.ProcessId, U32(dump, (long)misc[4].Start.Value + 4));
    }

    [Fact]
    public void MiscInfoFlagsFollowTheFieldsThatAreSet()
    {
        var b = new MinidumpBuilder();
        var m = b.AddMiscInfo(new MiscInfoSpec
        {
            Version = 4, ProcessId = 1, ProcessCreateTime = 2, ProcessorMaxMhz = 3000, ProcessIntegrityLevel = 0x2000,
            TimeZone = new TimeZoneSpec { Bias = 480, StandardName = "Pacific Standard Time" }, BuildString = "10.0.19041.1",
        });
        byte[] dump = b.Build();
        long at = (long)m.Start.Value;
        Assert.Equal(832u, U32(dump, at));
        Assert.Equal(0x1u | 0x2 | 0x4 | 0x10 | 0x40 | 0x100, U32(dump, at + 4));
        Assert.Equal(3000u, U32(dump, at + 24));
        Assert.Equal(0x2000u, U32(dump, at + 44));
        Assert.Equal(480u, U32(dump, at + 60));
        Assert.Equal("Pacific Standard Time", Encoding.Unicode.GetString(dump, (int)at + 64, 42));
        Assert.Equal("10.0.19041.1", Encoding.Unicode.GetString(dump, (int)at + 232, 24));

        Assert.Throws<ArgumentException>(() => new MinidumpBuilder().AddMiscInfo(new MiscInfoSpec { Version = 2, BuildString = "x" }));
    }

    [Fact]
    public void CorruptionKnobsProduceTheRequestedDamage()
    {
        var b = new MinidumpBuilder { Signature = 0x12345678, NumberOfStreamsOverride = 5 };
        b.AddThreadList([new ThreadSpec { ThreadId = 1 }], countOverride: 1_000_000);
        b.AddDirectoryEntry(StreamType.ModuleList, Label.Const(108), b.FileEnd + 100);
        var m1 = b.AddMemory(0x2000, new byte[16]);
        var m2 = b.AddMemory(0x1000, new byte[32]);
        b.AddMemoryList(m1, m2, m1); // unsorted and duplicated
        byte[] dump = b.Build();

        Assert.Equal(0x12345678u, U32(dump, 0));
        Assert.Equal(5u, U32(dump, 8));
        Assert.Equal(1_000_000u, U32(dump, Entry(dump, 0).Rva));
        Assert.Equal((uint)dump.Length + 100, Entry(dump, 1).Rva);
        var mem = Entry(dump, 2);
        Assert.Equal(3u, U32(dump, mem.Rva));
        Assert.Equal(0x2000ul, U64(dump, mem.Rva + 4));
        Assert.Equal(0x1000ul, U64(dump, mem.Rva + 20));
        Assert.Equal(U32(dump, mem.Rva + 16), U32(dump, mem.Rva + 48)); // same RVA twice
        Assert.Throws<InvalidOperationException>(() => b.AddCommentW("too late"));

        var t = new MinidumpBuilder();
        var list = t.AddThreadList([new ThreadSpec { ThreadId = 1 }]);
        list.PatchU32(4 + 44, 0xFFFF_FF00); // context RVA far past the end
        t.Truncate(list.Start + 10);
        byte[] cut = t.Build();
        Assert.Equal((int)list.Start.Value + 10, cut.Length);

        var p = new MinidumpBuilder();
        var patched = p.AddThreadList([new ThreadSpec { ThreadId = 1, Context = Contexts.Amd64(1, 2, 3) }]);
        patched.PatchU32(4 + 44, 0xFFFF_FF00);
        Assert.Equal(0xFFFF_FF00u, U32(p.Build(), (long)patched.Start.Value + 48));
    }

    [Fact]
    public void Memory64DataIsContiguousAtTheEndAndFileMatchesBuild()
    {
        var b = new MinidumpBuilder();
        b.AddSystemInfo(new SystemInfoSpec());
        b.AddMemory64List();
        b.AddMemory64(0x10000, [1, 2, 3, 4, 5, 6, 7, 8]);
        b.SparseMemory(0x20000, 0x3000);
        b.AddMemory64(0x30000, [9, 9]);
        b.AddCommentW("after"); // streams added later are still placed before the Memory64 data
        byte[] dump = b.Build();

        var m64 = Entry(dump, 1);
        Assert.Equal(9u, m64.Type);
        Assert.Equal(16u + 3 * 16, m64.Size);
        Assert.Equal(3ul, U64(dump, m64.Rva));
        ulong baseRva = U64(dump, m64.Rva + 8);
        Assert.Equal(0x10000ul, U64(dump, m64.Rva + 16));
        Assert.Equal(8ul, U64(dump, m64.Rva + 24));
        Assert.Equal(0x20000ul, U64(dump, m64.Rva + 32));
        Assert.Equal(0x3000ul, U64(dump, m64.Rva + 40));
        Assert.Equal((ulong)dump.Length, baseRva + 8 + 0x3000 + 2);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 }, dump.AsSpan((int)baseRva, 8).ToArray());
        Assert.All(dump.AsSpan((int)baseRva + 8, 0x3000).ToArray(), x => Assert.Equal(0, x));
        Assert.Equal(9, dump[^1]);
        Assert.True(Entry(dump, 2).Rva < baseRva);

        string path = Path.Combine(Path.GetTempPath(), $"synth-{Guid.NewGuid():N}.dmp");
        try
        {
            b.WriteTo(path);
            Assert.Equal(dump, File.ReadAllBytes(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void FourGigabyteSparseDumpWritesQuicklyWithoutAllocatingItsMemory()
    {
        const long size = 4L << 30;
        string path = Path.Combine(Path.GetTempPath(), $"synth-4g-{Guid.NewGuid():N}.dmp");
        try
        {
            long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
            var sw = Stopwatch.StartNew();

            var b = new MinidumpBuilder { Flags = WinConst.MiniDumpWithFullMemory };
            b.AddSystemInfo(new SystemInfoSpec());
            var ctx = b.Add(Contexts.Amd64(0x1000, 0x1_0000_1000, 0x1_0000_1100));
            b.AddThreadList(new ThreadSpec { ThreadId = 1, Context = ctx });
            b.AddMemory64(0x1000, new byte[4096]);
            b.SparseMemory(0x1_0000_0000, size);
            b.WriteTo(path);

            sw.Stop();
            long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;

            var info = new FileInfo(path);
            Assert.True(info.Length >= size, $"file is only {info.Length} bytes");
            Assert.True(allocated < 16L << 20, $"allocated {allocated} bytes");
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"took {sw.Elapsed}");

            // The Memory64 list says the data runs exactly to the end of the file.
            byte[] head = new byte[4096];
            using (var fs = File.OpenRead(path)) fs.ReadExactly(head);
            var m64 = Enumerable.Range(0, (int)U32(head, 8)).Select(i => Entry(head, i)).Single(e => e.Type == StreamType.Memory64List);
            ulong baseRva = U64(head, m64.Rva + 8);
            Assert.Equal(2ul, U64(head, m64.Rva));
            Assert.Equal((ulong)size, U64(head, m64.Rva + 40));
            Assert.Equal((ulong)info.Length, baseRva + 4096 + (ulong)size);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
