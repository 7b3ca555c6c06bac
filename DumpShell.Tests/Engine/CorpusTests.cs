using Xunit;

namespace DumpShell.Tests.Engine;

/// <summary>Every dump in shared/dumps opens, and reading every property of it does not throw.</summary>
public class CorpusTests
{
    /// <summary>The 11 files MANIFEST.md lists (shared/dumps/MANIFEST.md, "Total: 11 files, 540,568 bytes").</summary>
    private static readonly (string Path, long Bytes)[] ManifestFiles =
    [
        ("breakpad/minidump2.dmp", 11317),
        ("breakpad/tiny-exe-with-cet-xsave.dmp", 92736),
        ("breakpad/tiny-exe-fastfail.dmp", 98722),
        ("lldb/fizzbuzz_no_heap.dmp", 6297),
        ("lldb/sigsegv.dmp", 102370),
        ("lldb/linux-x86_64.dmp", 63592),
        ("rust-minidump/linux-mini.dmp", 27549),
        ("rust-minidump/simple-crashpad.dmp", 18512),
        ("rust-minidump/pipeline-inlines-macos-segv.dmp", 118962),
        ("rust-minidump/invalid-range.dmp", 276),
        ("rust-minidump/invalid-record-count.dmp", 235),
    ];

    public static TheoryData<string> AllDumps => new(TestData.AllSharedDumps());

    public static TheoryData<string, long> ManifestDumps
    {
        get
        {
            var data = new TheoryData<string, long>();
            foreach (var (path, bytes) in ManifestFiles) data.Add(path, bytes);
            return data;
        }
    }

    [Fact]
    public void The_corpus_has_the_manifest_files_and_every_wine_dump()
    {
        var all = TestData.AllSharedDumps();
        foreach (var (path, _) in ManifestFiles) Assert.Contains(path, all);
        // MANIFEST: "Total: 11 files, 540,568 bytes".
        Assert.Equal(540568, ManifestFiles.Sum(f => f.Bytes));
        Assert.Equal(ManifestFiles.Length, all.Count(p => !p.StartsWith("wine/", StringComparison.Ordinal)));
        // Every Wine dump has its truth file.
        var wine = all.Where(p => p.StartsWith("wine/", StringComparison.Ordinal)).Select(p => p["wine/".Length..^".dmp".Length]);
        Assert.Equal(wine.Order(StringComparer.Ordinal), TestData.WineDumpNames());
        Assert.NotEmpty(TestData.WineDumpNames());
    }

    [Theory, MemberData(nameof(ManifestDumps))]
    public void Manifest_file_has_its_stated_size(string path, long bytes)
    {
        // MANIFEST: the "bytes" column of the file table.
        using var dump = Dump.Open(TestData.Shared(path));
        Assert.Equal(bytes, dump.File!.File.Length);
        Assert.Equal(bytes, dump.GetInfo().FileSize);
    }

    [Theory, MemberData(nameof(AllDumps))]
    public void Opens_and_every_property_reads_without_throwing(string path)
    {
        using var dump = Dump.Open(TestData.Shared(path));
        Assert.Equal(Path.GetFullPath(TestData.Shared(path)), dump.Path);
        Assert.NotEmpty(dump.File!.Directory);
        var ex = Record.Exception(() => EngineProbe.TouchEverything(dump));
        Assert.Null(ex);
    }

    [Theory, MemberData(nameof(AllDumps))]
    public void Every_thread_and_module_is_consistent(string path)
    {
        using var dump = Dump.Open(TestData.Shared(path));
        var info = dump.GetInfo();
        Assert.Equal(dump.File!.Threads.Count, info.ThreadCount);
        Assert.Equal(dump.File!.Modules.Count, info.ModuleCount);
        Assert.Equal(dump.Threads.Count, dump.Threads.Select(t => t.Index).Distinct().Count());
        foreach (var m in dump.Modules)
        {
            Assert.False(string.IsNullOrEmpty(m.Name));
            Assert.Same(m, dump.ModuleAt(m.BaseAddress));
        }
        // At most one exception thread, and only with an exception.
        Assert.True(dump.Threads.Count(t => t.IsExceptionThread) <= (dump.Exception is null ? 0 : 1));
    }
}
