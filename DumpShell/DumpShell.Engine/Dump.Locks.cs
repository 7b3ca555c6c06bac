using DumpShell.Analysis.Locks;

namespace DumpShell;

public sealed partial class Dump
{
    /// <summary>Critical sections, thread waits, wait chains and cycles, with the default stack walk (made once).</summary>
    public LockAnalysis Locks => LockAnalysis.For(this);
}
